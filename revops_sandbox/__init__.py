"""Local, faithful stand-ins of the outside APIs, served over real HTTP on loopback."""
