"""AdmissionReview in and out: the request attributes the policy layer decides on."""
