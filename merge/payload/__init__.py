"""Stage 2, the body: a template and one row's cells become a request body and its problems.

Pure: no file, network or sheet I/O beyond reading the template itself.
"""
