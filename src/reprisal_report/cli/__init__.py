"""Terminal front end: parse, call one workflow, render. Nothing else lives here."""
