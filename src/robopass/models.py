"""Imports every domain's models so ``Base.metadata`` (and Alembic) sees all tables.

Each domain package adds its ``models`` module here.
"""

from robopass.audit import models as audit_models  # noqa: F401
from robopass.auth import models as auth_models  # noqa: F401
from robopass.compliance import models as compliance_models  # noqa: F401
from robopass.components import models as component_models  # noqa: F401
from robopass.db import Base
from robopass.decisions import models as decision_models  # noqa: F401
from robopass.federation import models as federation_models  # noqa: F401
from robopass.incidents import models as incident_models  # noqa: F401
from robopass.ledger import models as ledger_models  # noqa: F401
from robopass.lifecycle import models as lifecycle_models  # noqa: F401
from robopass.notifications import models as notification_models  # noqa: F401
from robopass.organizations import models as organization_models  # noqa: F401
from robopass.pilots import models as pilot_models  # noqa: F401
from robopass.policies import models as policy_models  # noqa: F401
from robopass.product_models import models as product_model_models  # noqa: F401
from robopass.recalls import models as recall_models  # noqa: F401
from robopass.registry import models as registry_models  # noqa: F401
from robopass.robots import models as robot_models  # noqa: F401
from robopass.signals import models as signal_models  # noqa: F401
from robopass.stats import models as stats_models  # noqa: F401
from robopass.telemetry import models as telemetry_models  # noqa: F401

metadata = Base.metadata
