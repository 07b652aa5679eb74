"""A chat room behind a WebSocket API: every message a member sends goes to every member.

Routes (the API's RouteSelectionExpression is $request.body.action):
  $connect     a member joins: their connection id is kept, as a file named after it in
               /mnt/chat/connections (an EFS access point, so that every execution environment
               sees the same members); ?name=NAME says who they are
  $disconnect  a member leaves: their file goes
  sendmessage  {"action": "sendmessage", "message": "..."} is sent to every member with the
               management API's PostToConnection; members that are gone (GoneException) are
               forgotten on the way
  $default     anything else: the sender is told how to talk (a two-way route's answer)

The management API's client needs no endpoint_url on Shoal (AWS_ENDPOINT_URL names Shoal's
API, which serves @connections); on AWS it is https://{domainName}/{stage} of the event.
"""

import json
import os

import boto3

MEMBERS = "/mnt/chat/connections"


def _management(context):
    if os.environ.get("AWS_ENDPOINT_URL"):
        return boto3.client("apigatewaymanagementapi")
    return boto3.client("apigatewaymanagementapi",
                        endpoint_url=f"https://{context['domainName']}/{context['stage']}")


def lambda_handler(event, context):
    ctx = event["requestContext"]
    connection_id = ctx["connectionId"]
    route = ctx["routeKey"]
    os.makedirs(MEMBERS, exist_ok=True)
    if route == "$connect":
        name = (event.get("queryStringParameters") or {}).get("name") or "someone"
        with open(os.path.join(MEMBERS, connection_id), "w") as f:
            f.write(name)
        return {"statusCode": 200}
    if route == "$disconnect":
        try:
            os.remove(os.path.join(MEMBERS, connection_id))
        except FileNotFoundError:
            pass
        return {"statusCode": 200}
    if route == "sendmessage":
        try:
            with open(os.path.join(MEMBERS, connection_id)) as f:
                sender = f.read()
        except FileNotFoundError:
            sender = "someone"
        text = json.loads(event["body"]).get("message", "")
        data = json.dumps({"from": sender, "message": text}).encode()
        client = _management(ctx)
        for member in os.listdir(MEMBERS):
            try:
                client.post_to_connection(ConnectionId=member, Data=data)
            except client.exceptions.GoneException:
                try:
                    os.remove(os.path.join(MEMBERS, member))
                except FileNotFoundError:
                    pass
        return {"statusCode": 200}
    return {"statusCode": 200,
            "body": json.dumps({"error": 'send {"action": "sendmessage", "message": "..."}'})}
