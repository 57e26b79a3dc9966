"""Link firms to parcels (企业关联地块) and share each parcel's land among its firms.

Bureaus tie firms to land in four ways, combinable in a stated priority: the parcel id written in
the firm table, the land rows of a platform such as Wenzhou ETDZ's, the parcel's right holder, and
the firm's geocoded point. Tenants' land follows one of four counting rules (``TENANT_MODES``).
"""

from gisefficiency.link.links import Links, link_firms
from gisefficiency.link.report import ISSUE_LABELS, METHOD_LABELS, LinkReport
from gisefficiency.link.validate import LINK_METHODS, TABLE_YEARS, TENANT_MODES

__all__ = [
    "ISSUE_LABELS",
    "LINK_METHODS",
    "METHOD_LABELS",
    "TABLE_YEARS",
    "TENANT_MODES",
    "LinkReport",
    "Links",
    "link_firms",
]
