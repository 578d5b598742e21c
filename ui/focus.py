"""What to draw of a large structure, so that big complexes stay responsive in a browser.

Drawing a 5,000-atom protein as a cartoon costs the browser seconds (and much more
without a GPU); the graphs PAMNet builds for a complex only involve the binding site
(`pamnet.featurize.binding_site`).
"""

LARGE = 2000  # atoms: complexes above this are drawn around their binding site
# Å beyond the pocket cutoff. Featurization looks 2.6 Å past the pocket (whole residues),
# so the site's model input, graphs and counts equal those of the whole structure.
SITE_MARGIN = 6.0
