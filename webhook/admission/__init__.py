"""AdmissionReview in and out, and manifests as requests: the edges that build the
AdmissionAttributes (webhook/policy/attributes.py) the policy layer decides on."""
