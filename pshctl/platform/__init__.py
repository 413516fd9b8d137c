"""The platform's control plane over HTTP: credentials, API client, cache, SSH certificates.

Knows nothing of SSH connections: it answers "which environments are there, what are
their SSH links, which workers are deployed" and hands out certificate files.

- :mod:`.settings`: where the API is (``api_url``, ``auth_url``) and its timeouts;
- :mod:`.credentials`: the API token's sources, its exchange for an access token;
- :mod:`.http`: one request with timeouts and retries (429, 5xx), urllib3 underneath;
- :mod:`.client`: environments, deployments, certificates; errors a user can act on;
- :mod:`.resources`: the API's JSON as small immutable values (environments, links);
- :mod:`.cache`: environments cached under the user cache directory, with a TTL;
- :mod:`.certificates`: the CLIs' session certificates and pshctl's own.

Importing this package is cheap (Tab completion reads the cache through it): urllib3
and keyring are imported only when a request is made or a token looked up.
"""

from __future__ import annotations
