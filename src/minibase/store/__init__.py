"""Storage: tables, migrations, units of work, row-level security."""
