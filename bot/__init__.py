"""The process: configuration, the web application, the CLI, the scheduler and the chat surfaces."""
