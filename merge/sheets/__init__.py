"""Stage 1, the sheet: read any input as rows, and write result columns back into a copy of it.

The only package that imports pandas, openpyxl or calamine.
"""
