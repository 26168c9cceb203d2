"""The figures and the census extract as files: HTML (with charts), CSV and JSON of a report
(dialogs.report_model), the census's CSV and XML, the commands that write them, and the file a
manager gets in chat."""
