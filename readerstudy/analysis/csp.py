"""The one Content-Security-Policy addition the figure pages need, and nothing more.

plotly.js creates an empty ``<style>`` element and fills it through the CSSOM
(``insertRule``), which CSP does not govern; the element itself is allowed by the hash of the
empty string, and so are the empty ``style=""`` attributes it sets on colour bars. An empty
style can do nothing, so the policy stays strict: no non-empty inline style or script runs.
"""

from csp.decorators import csp_update

EMPTY_STYLE_HASH = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"

plotly_page = csp_update({"style-src": ["'unsafe-hashes'", EMPTY_STYLE_HASH]})
