"""Key Management Service: customer and AWS managed keys, their aliases, policies and tags, and
the symmetric cryptography (Encrypt/Decrypt/GenerateDataKey) EFS's file-system keys go through.

``models`` (immutable keys and aliases), ``crypto`` (the server master key and AES-256-GCM),
``policies`` (the default and AWS managed key policies, and KMS's authorization rule),
``service`` (the component: persisted state, key states, identifiers). The wire layer is
``shoal.api.kms_*``.
"""
