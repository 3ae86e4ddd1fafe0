variable "zone" {
  description = "The zone delegated to Meridian (\"gslb.example.com\"), a subdomain of the parent hosted zone."
  type        = string

  validation {
    condition     = can(regex("^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\\.)+[a-zA-Z]{2,63}\\.?$", var.zone))
    error_message = "zone must be a fully qualified domain name."
  }
}

variable "parent_zone_id" {
  description = "Route 53 hosted zone ID of the parent zone (\"example.com\"), where the NS records and glue go."
  type        = string

  validation {
    condition     = can(regex("^Z[A-Z0-9]+$", var.parent_zone_id))
    error_message = "parent_zone_id must be a Route 53 hosted zone ID (Z...)."
  }
}

variable "nameservers" {
  description = "Meridian's DNS servers for the zone: [{name, ipv4, ipv6}], as the meridian-dns module's nameservers output (concatenate the outputs of several regions). Names inside the zone need addresses: they become glue."
  type = list(object({
    name = string
    ipv4 = optional(list(string), [])
    ipv6 = optional(list(string), [])
  }))

  validation {
    # RFC 1034 section 4.1 and every registry: at least two nameservers.
    condition     = length(var.nameservers) >= 2
    error_message = "nameservers needs at least two servers."
  }

  validation {
    condition     = length(distinct([for ns in var.nameservers : trimsuffix(lower(ns.name), ".")])) == length(var.nameservers)
    error_message = "nameservers must not repeat a name."
  }
}

variable "ns_ttl" {
  description = "TTL in seconds of the NS records in the parent zone. Resolvers keep the delegation this long, so changing nameservers takes as long to reach everyone."
  type        = number
  default     = 3600

  validation {
    condition     = var.ns_ttl >= 60 && var.ns_ttl <= 172800
    error_message = "ns_ttl must be within 60..172800 seconds."
  }
}

variable "glue_ttl" {
  description = "TTL in seconds of the glue (A/AAAA) records in the parent zone."
  type        = number
  default     = 3600

  validation {
    condition     = var.glue_ttl >= 60 && var.glue_ttl <= 172800
    error_message = "glue_ttl must be within 60..172800 seconds."
  }
}

variable "zone_ttl" {
  description = "zones/<zone>.ttl: TTL of the apex SOA and NS records served by Meridian and of static records without their own, as a duration (\"1h\")."
  type        = string
  default     = "1h"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$", var.zone_ttl))
    error_message = "zone_ttl must be a Go duration with a unit, such as \"1h\"."
  }
}

variable "soa" {
  description = "zones/<zone>.soa fields; unset fields take Meridian's defaults (mname: first nameserver, rname: hostmaster.<zone>, refresh 1h, retry 15m, expire 336h, minimum 30s). Durations are strings."
  type = object({
    mname   = optional(string)
    rname   = optional(string)
    refresh = optional(string)
    retry   = optional(string)
    expire  = optional(string)
    minimum = optional(string)
  })
  default  = {}
  nullable = false

  validation {
    condition = alltrue([
      for d in [var.soa.refresh, var.soa.retry, var.soa.expire, var.soa.minimum] :
      d == null || can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$", d))
    ])
    error_message = "soa durations must be Go durations with a unit, such as \"30s\"."
  }
}

variable "records" {
  description = "zones/<zone>.records: static records in zone-file syntax, names relative to the zone (\"@ 3600 IN MX 10 mail.example.net.\")."
  type        = list(string)
  default     = []
}

variable "apply_policy" {
  description = "Run `meridian policy apply` on zones/<zone> from the machine running terraform, whenever it changes. That machine needs the meridian binary and etcd access (MERIDIAN_ETCD_* in its environment or policy_apply_environment)."
  type        = bool
  default     = false
}

variable "meridian_cli" {
  description = "The meridian command on the machine running terraform, for apply_policy."
  type        = string
  default     = "meridian"
}

variable "policy_apply_environment" {
  description = "Extra environment for `meridian policy apply`, such as MERIDIAN_ETCD_ENDPOINTS and the MERIDIAN_ETCD_CA/CERT/KEY file paths."
  type        = map(string)
  default     = {}
}
