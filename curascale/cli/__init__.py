"""The command line: `app` (root app and the only error boundary), one module per sub-command, `render` (all output)."""
