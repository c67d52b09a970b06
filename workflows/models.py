# Cron jobs, epics/tasks and workflow definitions and runs (see the work issue).
