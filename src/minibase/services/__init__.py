"""Use cases, each in one transaction: orgs, members, flows, versions, outputs, audit."""
