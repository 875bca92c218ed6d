"""What a council member installs: the SDK (`clients.sdk`) and the `council` command.

Nothing here imports the server (`broker`): members install only the client.
"""
