"""Imports every module that defines jobs, so that a consumer knows all of them."""

# Each domain adds its tasks module here, e.g. `import server.leads.reminders`.
