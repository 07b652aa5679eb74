"""IAM and STS: users, groups, roles, managed and inline policies, access keys, and the
temporary credentials STS issues.

The component (``shoal.iam``, :class:`shoal.iam.service.IamService`) is also the credential
source and identity-policy source the authentication layer (``shoal.identity``) calls. IAM is
global: its state is kept under region ``''`` and its ARNs name no region.
"""
