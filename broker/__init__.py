"""The council broker: a secure information-sharing broker for a cyber-security council."""

__version__ = "0.1.0"
