"""What the app serves or checks whatever the resource: health, metrics and spans, docs, security headers, request hygiene."""
