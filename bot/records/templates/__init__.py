"""The default templates of the record's documents (record.docx, made by make_template.py; record.html)."""
