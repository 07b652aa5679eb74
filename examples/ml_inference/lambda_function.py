"""MLInference: the seed article's machine-learning inference API, on Shoal.

Everything heavy lives on the file system mounted at /mnt/inference: PyTorch, Pillow and NumPy
under lib/ (the function's PYTHONPATH=/mnt/inference/lib) and the model under model/ (its
TORCH_HOME=/mnt/inference/model). As in the article, the libraries are imported and the model
is loaded once per execution environment, at module level; each call only runs inference.

The picture comes as the request body (an HTTP API passes a binary body base64-encoded, with
isBase64Encoded) or, the article's way, as ``?url=`` to fetch. The answer is
``{"class": "<shape>"}``.
"""

import base64
import io
import json
import os
import urllib.request

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

IMAGE_SIZE = 48
MEAN, STD = 0.5, 0.5


def transform_test(img):
    """The article's torchvision transform, in Pillow + NumPy: resize, to tensor, normalise."""
    img = img.convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR)
    array = (np.asarray(img, dtype=np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(array.transpose(2, 0, 1).copy())


# One thread. The model is small (a 48x48 picture is about a millisecond of work): a second
# OpenMP thread only adds synchronisation, which on a busy host measured 5-10x slower (p50
# 4-15 ms vs 55-100 ms). And GNU OpenMP's worker threads do not survive fork(): a snapshot
# start forks new environments from one that has run this init, and a child whose parent ran
# a multi-threaded OpenMP region (the weights' copy is one) hangs at its first one.
torch.set_num_threads(1)

# Loaded from $TORCH_HOME/hub on the file system, never from the network.
model = torch.hub.load(
    os.path.join(torch.hub.get_dir(), "shoal_shapes"), "shapes_cnn", source="local"
)
model.eval()


def read_image(event):
    params = event.get("queryStringParameters") or {}
    if "url" in params:
        with urllib.request.urlopen(params["url"], timeout=30) as response:
            return Image.open(io.BytesIO(response.read()))
    body = event.get("body")
    if not body:
        return None
    # A text body reaches the function as the UTF-8 text the gateway decoded.
    data = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    return Image.open(io.BytesIO(data))


def lambda_handler(event, context):
    try:
        img = read_image(event)
    except UnidentifiedImageError:
        return {
            "statusCode": 400,
            "body": json.dumps({"message": "cannot read image: not a picture format Pillow knows"}),
        }
    except (OSError, ValueError) as e:  # the URL could not be read, or bad base64
        return {"statusCode": 400, "body": json.dumps({"message": f"cannot read image: {e}"})}
    if img is None:
        return {
            "statusCode": 400,
            "body": json.dumps({"message": "send an image as the body, or ?url=<image URL>"}),
        }
    scaled_img = transform_test(img)
    torch_images = scaled_img.unsqueeze(0)
    with torch.no_grad():
        logits = model(torch_images)
        _, predict = torch.max(logits, 1)
        pred_id = predict.item()
        shape_class = model.classes[pred_id]
        print("class:", shape_class)
    return json.dumps({"class": shape_class})
