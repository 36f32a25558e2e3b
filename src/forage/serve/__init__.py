"""``forage serve``: an OpenAI-compatible HTTP service in front of forage's strategies.

``app.create_app(settings, llm=..., corpora=...)`` builds the FastAPI application; ``settings``
holds the limits, ``protocol`` the request/response shapes, ``traces`` the stored runs, ``viewer``
the HTML page of one run, ``progress`` the events a streamed run sends.
"""
