"""HeyGen over HTTP: V2 and v3 clients and their pacing, knowing nothing of sheets or journals.

The only package that imports httpx.
"""
