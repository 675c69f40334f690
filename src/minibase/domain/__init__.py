"""Pure logic, no I/O and no framework: roles, plans, quotas, flow rules, merges, diffs."""
