"""The record leaves the chat: its file formats, the export command and folder, and downloads."""
