"""Discogs: connect (OAuth 1.0a or a personal token), import a collection, link releases, value records,
and push records to a collection folder, the wantlist or draft marketplace listings.

Modules: ``api`` (the one HTTP boundary), ``oauth`` (connect/disconnect and the stored credentials),
``conditions`` (Discogs' exact grading strings), ``mapping`` (releases ⇄ our record items), ``importer``
(account and CSV imports), ``catalog`` (release cache, search, price suggestions), ``pusher`` (export jobs
on the push engine), ``ratelimit`` (the budget shared by every process), ``commands`` (the CLI).
"""
