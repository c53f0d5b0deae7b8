"""Imports every module that defines jobs, so that a consumer knows all of them."""

# Each domain adds its tasks module here, e.g. `import server.leads.reminders`.
import server.calls.jobs
import server.reminders.jobs
import server.whatsapp.delivery
import server.whatsapp.replies  # noqa: F401 - WhatsApp: the AI reply
