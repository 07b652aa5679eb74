"""KMS's symmetric cryptographic operations: Encrypt, Decrypt, GenerateDataKey,
GenerateDataKeyWithoutPlaintext, ReEncrypt, GenerateRandom.

The ciphertext blob carries its key (:mod:`shoal.kms.crypto`), so Decrypt and ReEncrypt need no
key id; one given must name that key, else IncorrectKeyException. The encryption context is
bound as associated data: decrypting with another context (or none) is
InvalidCiphertextException with an empty message, as AWS answers. Answers name the key by ARN.
"""

from __future__ import annotations

import secrets
from typing import Any

from shoal.api.dispatch import Call
from shoal.api.kms_scope import authorize_key, key, kms_api, service
from shoal.errors import AwsError
from shoal.identity.actions import kms_context_keys
from shoal.kms.models import Key

ALGORITHM = "SYMMETRIC_DEFAULT"
DATA_KEY_BYTES = {"AES_256": 32, "AES_128": 16}
INCORRECT = "The key ID in the request does not identify a CMK that can perform this operation."


def _algorithm(call: Call, member: str = "EncryptionAlgorithm") -> None:
    given = call.params.get(member)
    if given is not None and given != ALGORITHM:
        raise AwsError("InvalidKeyUsageException", f"Algorithm {given} is incompatible with "
                       f"key spec {ALGORITHM}.")  # fmt: skip


def _dry_run(call: Call) -> None:
    if call.params.get("DryRun"):
        raise AwsError("DryRunOperationException", "The request would have succeeded, but the "
                       "DryRun option is set.")  # fmt: skip


def _blob_key(call: Call, named: str | None) -> Key:
    """The key of the call's ciphertext blob; IncorrectKeyException if ``named`` is another."""
    kms = service(call)
    found = kms.blob_key(call.region, call.params["CiphertextBlob"])
    if named is not None and key(call, named).id != found.id:
        raise AwsError("IncorrectKeyException", INCORRECT)
    return found


@kms_api.handles("Encrypt")
async def encrypt(call: Call) -> dict[str, Any]:
    p = call.params
    _algorithm(call)
    found = key(call, p["KeyId"])
    service(call).usable(found)
    _dry_run(call)
    blob = service(call).encrypt(found, p["Plaintext"], p.get("EncryptionContext"))
    return {"CiphertextBlob": blob, "KeyId": found.arn, "EncryptionAlgorithm": ALGORITHM}


@kms_api.handles("Decrypt")
async def decrypt(call: Call) -> dict[str, Any]:
    p = call.params
    if "CiphertextBlob" not in p:
        raise AwsError(
            "ValidationException",
            "1 validation error detected: Value null at "
            "'ciphertextBlob' failed to satisfy constraint: Member must not be null",
        )
    _algorithm(call)
    found = _blob_key(call, p.get("KeyId"))
    service(call).usable(found)
    _dry_run(call)
    plaintext = service(call).decrypt(found, p["CiphertextBlob"], p.get("EncryptionContext"))
    return {"KeyId": found.arn, "Plaintext": plaintext, "EncryptionAlgorithm": ALGORITHM,
            "KeyMaterialId": found.material_id}  # fmt: skip


def _data_key(call: Call) -> tuple[Key, bytes, bytes]:
    p = call.params
    size, spec = p.get("NumberOfBytes"), p.get("KeySpec")
    if (size is None) == (spec is None):
        raise AwsError("ValidationException", "Please specify either number of bytes or key spec.")
    found = key(call, p["KeyId"])
    service(call).usable(found)
    _dry_run(call)
    length = int(size) if size is not None else DATA_KEY_BYTES[str(spec)]
    plaintext, blob = service(call).data_key(found, length, p.get("EncryptionContext"))
    return found, plaintext, blob


@kms_api.handles("GenerateDataKey")
async def generate_data_key(call: Call) -> dict[str, Any]:
    found, plaintext, blob = _data_key(call)
    return {"CiphertextBlob": blob, "Plaintext": plaintext, "KeyId": found.arn,
            "KeyMaterialId": found.material_id}  # fmt: skip


@kms_api.handles("GenerateDataKeyWithoutPlaintext")
async def generate_data_key_without_plaintext(call: Call) -> dict[str, Any]:
    found, _, blob = _data_key(call)
    return {"CiphertextBlob": blob, "KeyId": found.arn, "KeyMaterialId": found.material_id}


@kms_api.handles("ReEncrypt")
async def re_encrypt(call: Call) -> dict[str, Any]:
    p, kms = call.params, service(call)
    if "CiphertextBlob" not in p:
        raise AwsError(
            "ValidationException",
            "1 validation error detected: Value null at "
            "'ciphertextBlob' failed to satisfy constraint: Member must not be null",
        )
    _algorithm(call, "SourceEncryptionAlgorithm")
    _algorithm(call, "DestinationEncryptionAlgorithm")
    source = _blob_key(call, p.get("SourceKeyId"))
    destination = key(call, p["DestinationKeyId"])
    authorize_key(call, destination, "kms:ReEncryptTo",
                  kms_context_keys(p.get("DestinationEncryptionContext")))  # fmt: skip
    kms.usable(source)
    kms.usable(destination)
    _dry_run(call)
    plaintext = kms.decrypt(source, p["CiphertextBlob"], p.get("SourceEncryptionContext"))
    blob = kms.encrypt(destination, plaintext, p.get("DestinationEncryptionContext"))
    return {
        "CiphertextBlob": blob, "SourceKeyId": source.arn, "KeyId": destination.arn,
        "SourceEncryptionAlgorithm": ALGORITHM, "DestinationEncryptionAlgorithm": ALGORITHM,
        "SourceKeyMaterialId": source.material_id,
        "DestinationKeyMaterialId": destination.material_id,
    }  # fmt: skip


@kms_api.handles("GenerateRandom")
async def generate_random(call: Call) -> dict[str, Any]:
    size = call.params.get("NumberOfBytes")
    if size is None:
        raise AwsError("ValidationException", "NumberOfBytes is required.")
    if call.params.get("CustomKeyStoreId"):
        raise AwsError("CustomKeyStoreNotFoundException", "Custom key stores are not supported")
    return {"Plaintext": secrets.token_bytes(size)}
