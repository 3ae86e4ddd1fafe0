variable "zone" {
  description = "The zone to delegate to Meridian (\"gslb.example.com\"); its nameservers are ns1, ns2 and ns3 inside it."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.zone))
    error_message = "zone must be a lower-case domain name without a trailing dot."
  }
}

variable "parent_zone_id" {
  description = "Route 53 hosted zone ID of the zone's parent (\"example.com\")."
  type        = string
}

variable "networks" {
  description = "An existing VPC and its public subnets (one per availability zone) in each AWS region: eu-west-1, us-east-1 and ap-southeast-1."
  type = map(object({
    vpc_id     = string
    subnet_ids = list(string)
  }))

  validation {
    condition     = toset(keys(var.networks)) == toset(["eu-west-1", "us-east-1", "ap-southeast-1"])
    error_message = "networks must have exactly the keys eu-west-1, us-east-1 and ap-southeast-1."
  }

  validation {
    condition     = alltrue([for n in values(var.networks) : length(n.subnet_ids) > 0])
    error_message = "every region needs at least one subnet."
  }
}

variable "meridian_binary_url" {
  description = "HTTPS URL of a linux/amd64 meridian binary (make build, then upload bin/meridian)."
  type        = string
}

variable "meridian_binary_sha256" {
  description = "SHA-256 of the file at meridian_binary_url (sha256sum bin/meridian)."
  type        = string
}

variable "etcd_sha256" {
  description = "SHA-256 of etcd-v<version>-linux-amd64.tar.gz, from the etcd release's SHA256SUMS."
  type        = string
}

variable "etcd_client_cidrs" {
  description = "Where etcd clients connect from, besides the DNS servers (added automatically): the proxies' egress (their subnets' NAT gateways, or the public ranges they draw addresses from) and the operators' machines."
  type        = list(string)

  validation {
    condition     = length(var.etcd_client_cidrs) > 0 && alltrue([for c in var.etcd_client_cidrs : can(cidrhost(c, 0))])
    error_message = "etcd_client_cidrs must hold at least one CIDR."
  }
}

variable "backends" {
  description = "Backends (host:port) of the web pool in each Meridian region: eu-west, us-east and ap-southeast."
  type        = map(list(string))

  validation {
    condition     = toset(keys(var.backends)) == toset(["eu-west", "us-east", "ap-southeast"])
    error_message = "backends must have exactly the keys eu-west, us-east and ap-southeast."
  }
}

variable "admin_cidrs" {
  description = "CIDRs allowed to reach the admin ports (/metrics), such as a Prometheus server; empty keeps them closed."
  type        = list(string)
  default     = []
}

variable "geoip_account_id" {
  description = "MaxMind account ID for the GeoLite2 database, or null to place clients by geo/networks/* only."
  type        = string
  default     = null
}

variable "geoip_license_key" {
  description = "MaxMind license key for geoip_account_id."
  type        = string
  default     = null
  sensitive   = true
}

variable "apply_policy" {
  description = "Apply the combined policy (policy_json) to etcd from this machine after every change; needs meridian on PATH and MERIDIAN_ETCD_* in the environment (see README.md)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every AWS resource."
  type        = map(string)
  default     = { "meridian:deployment" = "three-regions" }
}
