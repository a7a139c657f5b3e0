//! veerctl on Kubernetes and Istio.
