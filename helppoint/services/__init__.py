"""Use cases: each opens a unit of work, loads through repositories, calls the domain, commits."""
