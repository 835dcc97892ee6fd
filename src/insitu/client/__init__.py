"""Python client for an insitu node: ``node = insitu.connect(url, token=...)``.

Owners manage members, datasets, policies, budgets and decide requests;
analysts read cards and mocks, submit code and fetch released results. Errors
come back as the same :mod:`insitu.errors` classes the node raised. See
``docs/client.md``.
"""

from insitu.client.connection import NodeClient, connect
from insitu.client.datasets import Dataset, Datasets
from insitu.client.governance import Audit, Budgets, Policies
from insitu.client.members import Members
from insitu.client.records import IssuedToken, Listing, MemberInfo, PolicyInfo, TokenInfo
from insitu.client.requests import Request, RequestDenied, Requests

__all__ = [
    "Audit",
    "Budgets",
    "Dataset",
    "Datasets",
    "IssuedToken",
    "Listing",
    "MemberInfo",
    "Members",
    "NodeClient",
    "Policies",
    "PolicyInfo",
    "Request",
    "RequestDenied",
    "Requests",
    "TokenInfo",
    "connect",
]
