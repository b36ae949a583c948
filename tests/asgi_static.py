"""The site as config.asgi serves it, plus its static files (for browser tests that run the
page scripts under daphne, where nothing else serves /static/): `site_process(static=True)`."""

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

from config.asgi import application as site_application

application = ASGIStaticFilesHandler(site_application)
