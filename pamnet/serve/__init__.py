"""A warm `pamnet` for the command line: `pamnet serve`.

A fresh `pamnet explain` or `predict` spends most of its time importing (torch alone:
1.2-1.8 s on 2 cores) and loading the checkpoint; the molecule takes a tenth of a
second. The server pays that once (imports, default checkpoints, one explanation), then
runs the `SERVED` commands for clients: same output, exit code and files, in a fraction
of a second. Without a server they run as before.

- It listens on a Unix socket in a folder only its user can open (`runtime_dir()`),
  named after this installation (`install_key()`: environment, package folder, newest
  source file), so no client reaches a server running other code.
- A client sends its arguments, folder, environment and umask, and its own stdin,
  stdout and stderr (SCM_RIGHTS). The server forks a child that takes them on, runs
  `pamnet.cli.main` and sends the exit code back; Ctrl-C in the client is forwarded.
- The child inherits everything loaded, copy-on-write. The server never runs torch on
  more than one thread: libgomp does not survive fork, and a child of a process that
  ran a 2-thread region hangs in its own first one (measured).
- The server reaps its children, accepts only its own user (SO_PEERCRED), and exits
  after `idle` seconds without a call.
"""
