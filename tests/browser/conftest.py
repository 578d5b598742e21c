"""Browser tests: the real app (`streamlit run app.py`) in headless Chromium via playwright.

Fixtures
    app_url         base URL ("http://127.0.0.1:PORT") of one server for the whole test
                    session, started with a tiny untrained checkpoint named 'tiny' as the
                    default (as the `tiny_registry` fixture makes; PAMNET_CHECKPOINTS /
                    PAMNET_DATA_DIR / PAMNET_DEFAULT_CHECKPOINT point at it) beside links
                    to the shipped QM9 checkpoints (`SHIPPED`, for timing the real model),
                    and stopped at the end.
    page            a fresh playwright Page (1400x1000) per test; `page.console_errors`
                    lists the browser console's errors (iframes included).
Helpers (`from browser.conftest import go_to, ...`; tests/browser is a package so this
name cannot clash with tests/conftest.py)
    open_app(page, app_url)         load the landing page and wait until it is drawn.
    go_to(page, name)               click the page `name` ("Predict") in the sidebar
                                    navigation; keeps the session (a new URL would not).
    wait_for_text(page, text, timeout=30)   wait until `text` is visible (seconds).
    wait_idle(page, timeout=60)     wait until Streamlit has finished running the script.
    screenshot(page, name, locator=None)    save test-artifacts/<name>.png (whole page,
                                    or just `locator`) and return its path and bytes.
    not_blank(png)                  True if a PNG shows a picture, not one flat colour.

The tests skip, saying why, when Chromium (/usr/bin/chromium) or playwright is missing;
with CI set in the environment they fail instead.
Mark browser tests with `@pytest.mark.browser`.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pamnet.testing import write_tiny_registry

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("PAMNET_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]  # WebGL (3Dmol.js) still works: Chromium falls back to SwiftShader, in software
SERVER_START_S = 90
SHIPPED = ("qm9_pamnet", "qm9_pamnet_mmff")  # also offered by the test server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.read().strip() == b"ok"
    except OSError:
        return False


@pytest.fixture(scope="session")
def _playwright():
    # In CI (.ci/run installs Chromium) a missing browser fails the run instead of
    # skipping these tests quietly.
    missing = pytest.fail if os.environ.get("CI") else pytest.skip
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed (pip install playwright)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def app_url(_playwright, tmp_path_factory):
    """Base URL of `streamlit run app.py` on a free loopback port (tiny checkpoint)."""
    folder = tmp_path_factory.mktemp("app")
    env = {**os.environ, **write_tiny_registry(folder)}
    for name in SHIPPED:
        for ext in (".pt", ".md"):
            shipped = ROOT / "checkpoints" / f"{name}{ext}"
            if shipped.is_file():
                (Path(env["PAMNET_CHECKPOINTS"]) / shipped.name).symlink_to(shipped)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true", "--server.port", str(port),
        "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    log = (folder / "server.log").open("w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                tail = (folder / "server.log").read_text()[-3000:]
                pytest.fail(f"streamlit did not start on {url}:\n{tail}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(folder / "server.log", ARTIFACTS / "server.log")


@pytest.fixture()
def page(_playwright):
    """A fresh page; its console errors collect in `page.console_errors`."""
    context = _playwright.new_context(viewport={"width": 1400, "height": 1000})
    p = context.new_page()
    p.console_errors = []
    p.on("console", lambda m: m.type == "error" and p.console_errors.append(m.text))
    p.on("pageerror", lambda e: p.console_errors.append(f"uncaught: {e}"))
    yield p
    context.close()


# --- helpers ------------------------------------------------------------------------
def wait_for_text(page, text: str, timeout: float = 30) -> None:
    """Wait until `text` is visible somewhere on the page (timeout in seconds)."""
    page.get_by_text(text, exact=False).first.wait_for(state="visible", timeout=timeout * 1000)


def click_settled(locator, timeout: float = 30, settle_ms: int = 150) -> None:
    """Click `locator` once it has stayed in place for `settle_ms`, as a person would.
    A click within milliseconds of an expander opening can land on a button Streamlit is
    about to replace, and is lost (measured: 5 of 36 immediate clicks; 0 of 44 after a
    pause or dispatched to the element)."""
    locator.wait_for(timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    box = locator.bounding_box()
    while True:
        locator.page.wait_for_timeout(settle_ms)
        now = locator.bounding_box()
        if (now == box and now is not None) or time.monotonic() > deadline:
            break
        box = now
    locator.click()


def wait_idle(page, timeout: float = 60, settle_ms: int = 300) -> None:
    """Wait until Streamlit has finished running the script: its status widget is gone
    and stays gone for `settle_ms` (a script that calls st.rerun() runs twice)."""
    absent = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
    deadline = time.monotonic() + timeout
    page.wait_for_timeout(100)
    while True:
        left = max(1.0, deadline - time.monotonic())
        page.wait_for_function(absent, timeout=left * 1000)
        page.wait_for_timeout(settle_ms)
        if page.evaluate(absent) or time.monotonic() > deadline:
            return


def open_app(page, app_url: str, timeout: float = 60) -> None:
    """Load the landing page and wait for it (the first load imports torch: slow)."""
    page.goto(app_url)
    wait_for_text(page, "PAMNet Studio", timeout)
    wait_idle(page, timeout)


def go_to(page, name: str, timeout: float = 30) -> None:
    """Open the page called `name` through the sidebar navigation (same session)."""
    nav = page.get_by_test_id("stSidebarNav")
    link = nav.get_by_role("link", name=name, exact=True)
    narrow = page.viewport_size["width"] < 1000  # the sidebar is an overlay, shut by default
    if narrow:
        page.get_by_test_id("stExpandSidebarButton").first.click()
        link.wait_for(state="visible", timeout=timeout * 1000)
        page.wait_for_timeout(400)  # the sidebar slides in
    link.click()
    page.wait_for_url(f"**/{name.replace(' ', '_')}", timeout=timeout * 1000)
    wait_idle(page, timeout)
    shut = page.get_by_test_id("stSidebarCollapseButton")
    if (
        narrow
        and shut.count()
        and page.get_by_test_id("stSidebar").get_attribute("aria-expanded") != "false"
    ):
        shut.first.click(force=True)  # out of the way, as a person would close it
        page.wait_for_timeout(400)


def choose(page, label: str, option: str, timeout: float = 30) -> None:
    """Pick the option starting with `option` in the selectbox labelled `label`."""
    box = page.get_by_test_id("stSelectbox").filter(has_text=label).first
    box.click()
    page.get_by_role("option").filter(has_text=option).first.click(timeout=timeout * 1000)
    wait_idle(page, timeout)


def screenshot(page, name: str, locator=None) -> tuple[Path, bytes]:
    """Save test-artifacts/<name>.png of the page (or of `locator`); (path, PNG bytes)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    target = locator if locator is not None else page
    data = target.screenshot(path=str(path))
    return path, data


def not_blank(png: bytes, min_colors: int = 50, min_share: float = 0.005) -> bool:
    """True if the image has at least `min_colors` colours and `min_share` of its pixels
    differ from the most common (background) colour."""
    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    colors, counts = np.unique(rgb, axis=0, return_counts=True)
    return len(colors) >= min_colors and 1 - counts.max() / len(rgb) >= min_share


def synthetic_complex_pdb(copies: int = 1, sequence: str = "GAGAGAGAGAGA") -> bytes:
    """PDB bytes of a synthetic protein-ligand complex for tests: `copies` copies of an
    RDKit-embedded peptide (hydrogens included, chains A, B, ...) side by side, and
    benzamidine (HETATM BEN) in contact with chain A. Not a real structure."""
    import numpy as np
    from rdkit import Chem
    from rdkit.Chem import AllChem
    from scipy.spatial import cKDTree

    from pamnet.io import from_smiles, write_pdb
    from pamnet.structure import Structure

    mol = Chem.AddHs(Chem.MolFromSequence(sequence), addCoords=False, addResidueInfo=True)
    params = AllChem.ETKDGv3()
    params.randomSeed, params.useRandomCoords, params.numThreads = 7, True, 1
    if AllChem.EmbedMolecule(mol, params) < 0:
        raise RuntimeError(f"could not embed {sequence}")
    xyz = mol.GetConformer().GetPositions()
    xyz -= xyz.min(axis=0)
    info = [a.GetPDBResidueInfo() for a in mol.GetAtoms()]
    step = xyz.max(axis=0) + 6.0  # Å between copies along each grid axis
    side = int(np.ceil(np.sqrt(copies)))
    shifts = [np.array([i % side, i // side, 0]) * step for i in range(copies)]

    ligand = from_smiles("NC(=N)c1ccccc1", seed=0)
    lig = ligand.coords - ligand.coords.mean(axis=0)
    tree = cKDTree(xyz)
    axes = [np.arange(lo - 5, hi + 5, 1.0) for lo, hi in zip(xyz.min(0), xyz.max(0))]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    near, _ = tree.query(grid)
    best, best_score = None, -1
    for g in grid[(near > 4.0) & (near < 6.0)][::7]:  # a sample is plenty
        d, _ = tree.query(lig + g)
        if 3.0 <= d.min() <= 4.0:
            score = sum(len(x) for x in tree.query_ball_point(lig + g, 6.0))
            if score > best_score:
                best, best_score = g, score
    n_p, n_l = mol.GetNumAtoms() * copies, ligand.n_atoms
    s = Structure(
        elements=[a.GetSymbol() for a in mol.GetAtoms()] * copies + ligand.elements,
        coords=np.concatenate([xyz + t for t in shifts] + [lig + best]),
        bonds=ligand.bonds + n_p,
        bond_orders=ligand.bond_orders,
        atom_names=[i.GetName().strip() for i in info] * copies
        + [f"{e}{k + 1}" for k, e in enumerate(ligand.elements)],
        roles=["protein"] * n_p + ["ligand"] * n_l,
        residue_names=[i.GetResidueName().strip() for i in info] * copies + ["BEN"] * n_l,
        residue_numbers=[i.GetResidueNumber() for i in info] * copies + [101] * n_l,
        chain_ids=[chr(65 + k % 26) for k in range(copies) for _ in info] + ["A"] * n_l,
        name="synthetic complex",
    )
    return write_pdb(s).encode()
