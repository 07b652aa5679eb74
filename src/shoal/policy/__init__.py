"""One policy engine for every policy Shoal evaluates: IAM identity policies, role trust
policies, EFS file-system policies and Lambda resource policies.

As MinIO's ``pkg/policy`` is for its IAM and bucket policies: parse and validate a document
once (:mod:`.document`), compile its patterns, and evaluate requests against it with IAM's
logic (:mod:`.engine`) and IAM's condition operators (:mod:`.conditions`). Services keep only
what is theirs: which actions they ask about, and which context keys their requests carry.

No library does this: the Python IAM evaluators on PyPI are either policy *linters*
(parliament, policy_sentry) with no request evaluation, or parts of emulators (moto) that are
not usable as a library and are not an authority. The logic here follows the IAM User Guide's
"Policy evaluation logic" and "IAM JSON policy elements: Condition operators" pages.
"""

from shoal.policy.document import Kind, Policy, Statement, parse
from shoal.policy.engine import Decision, Principal, Request, evaluate

__all__ = ["Decision", "Kind", "Policy", "Principal", "Request", "Statement", "evaluate", "parse"]
