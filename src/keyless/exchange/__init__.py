"""Exchange a CI identity token for credentials, and hand them to the job."""
