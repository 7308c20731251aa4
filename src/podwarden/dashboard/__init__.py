"""The web dashboard (``/_podwarden/dashboard/``): clusters, node grids, the timeline of faults
and recoveries, and jobs, read-only, updated live (docs/architecture.md, "The web dashboard").

Server-rendered HTML (Jinja2 templates in ``templates/``) with htmx and its Server-Sent Events
extension, vendored in ``static/`` (``static/VENDORED.txt``): nothing is fetched from elsewhere
at run time. ``app.Dashboard`` is the ASGI app the API mounts; ``views`` and ``jobs`` make the
records the pages show (pure), ``sources`` reads them, ``live`` announces changes, ``sessions``
holds sign-ins."""
