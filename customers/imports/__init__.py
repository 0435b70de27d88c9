"""Importing customers and their balances from a spreadsheet.

``reading`` turns the file into rows of text, ``fields`` says which column holds what,
``checking`` decides what each row would do, ``applying`` writes the rows in bulk through the
ledger's rules, ``services`` runs the steps (upload, map, check, apply, card links) and
``selectors`` reads the jobs back. See the README's "Imports".
"""
