# --- The region's policy (regions/<region> and pools/<region>/<pool>) ---

variable "region" {
  description = "Meridian region name, the <region> of regions/<region> (\"eu-west\"). Not the AWS region: that comes from the aws provider."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.region))
    error_message = "region must be 1 to 63 lower-case letters, digits and inner hyphens (docs/keyspace.md)."
  }
}

variable "location" {
  description = "Where the region is, in decimal degrees; geo steering measures great-circle distance to it."
  type = object({
    lat = number
    lon = number
  })

  validation {
    condition     = abs(var.location.lat) <= 90 && abs(var.location.lon) <= 180
    error_message = "location.lat must be within -90..90 and location.lon within -180..180."
  }
}

variable "country" {
  description = "ISO 3166-1 alpha-2 country of the region (\"IE\"), or null."
  type        = string
  default     = null

  validation {
    condition     = var.country == null || can(regex("^[A-Z]{2}$", var.country))
    error_message = "country must be two upper-case letters."
  }
}

variable "continent" {
  description = "Continent code (AF AN AS EU NA OC SA), or null to derive it from country."
  type        = string
  default     = null

  validation {
    condition     = var.continent == null || contains(["AF", "AN", "AS", "EU", "NA", "OC", "SA"], coalesce(var.continent, "EU"))
    error_message = "continent must be one of AF AN AS EU NA OC SA."
  }
}

variable "http_port" {
  description = "Port the proxies serve HTTP on: their --listen port, the load balancer's listener, and regions/<region>.http_port (other regions spill over to it)."
  type        = number
  default     = 80

  validation {
    condition     = var.http_port >= 1 && var.http_port <= 65535 && floor(var.http_port) == var.http_port
    error_message = "http_port must be an integer in 1..65535."
  }
}

variable "check" {
  description = "How `meridian probe` checks each proxy address (regions/<region>.check; fields as in probes/README.md), or null for no probe check. An http check goes through the proxy to a backend of the pool that serves its Host: set host unless a pool serves \"*\"."
  type = object({
    kind            = optional(string)
    port            = optional(number)
    path            = optional(string)
    method          = optional(string)
    host            = optional(string)
    expect_status   = optional(string)
    expect_body     = optional(string)
    tls_skip_verify = optional(bool)
    interval        = optional(string)
    timeout         = optional(string)
    rise            = optional(number)
    fall            = optional(number)
    initial_state   = optional(string)
  })
  default = {
    kind     = "http"
    path     = "/healthz"
    interval = "2s"
    timeout  = "1s"
    rise     = 2
    fall     = 3
  }

  validation {
    condition     = var.check == null || contains(["http", "https", "tcp"], coalesce(try(var.check.kind, null), "http"))
    error_message = "check.kind must be http, https or tcp."
  }

  validation {
    condition = var.check == null || alltrue([
      for d in [try(var.check.interval, null), try(var.check.timeout, null)] :
      d == null || can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$", d))
    ])
    error_message = "check.interval and check.timeout must be Go durations with a unit, such as \"2s\"."
  }
}

variable "disabled" {
  description = "Take the region out of every DNS answer, healthy or not (regions/<region>.disabled)."
  type        = bool
  default     = false
}

variable "pools" {
  description = "What the proxies balance: pool name => pools/<region>/<pool> value (fields as in docs/keyspace.md). Durations are strings with a unit; spillover names other regions."
  type = map(object({
    hosts = list(string)
    backends = list(object({
      address = string
      weight  = optional(number)
    }))
    balancer = optional(string)
    check = optional(object({
      kind            = optional(string)
      port            = optional(number)
      path            = optional(string)
      method          = optional(string)
      host            = optional(string)
      expect_status   = optional(string)
      expect_body     = optional(string)
      tls_skip_verify = optional(bool)
      interval        = optional(string)
      timeout         = optional(string)
      rise            = optional(number)
      fall            = optional(number)
      initial_state   = optional(string)
    }))
    retries          = optional(number)
    connect_timeout  = optional(string)
    response_timeout = optional(string)
    spillover        = optional(list(string))
  }))
  default = {}

  validation {
    condition     = alltrue([for n in keys(var.pools) : can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", n))])
    error_message = "pool names must be lower-case letters, digits and inner hyphens."
  }

  validation {
    condition     = alltrue([for p in values(var.pools) : length(p.hosts) > 0 && length(p.backends) > 0])
    error_message = "every pool needs at least one host and one backend."
  }

  validation {
    condition     = alltrue([for p in values(var.pools) : p.balancer == null || contains(["round_robin", "least_request", "random"], coalesce(p.balancer, "random"))])
    error_message = "pool balancer must be round_robin, least_request or random."
  }

  validation {
    condition     = alltrue(flatten([for p in values(var.pools) : [for b in p.backends : can(regex("^[^\\s]+:[0-9]{1,5}$", b.address))]]))
    error_message = "backend addresses must be host:port."
  }
}

# --- Bring your own proxies ---

variable "proxy_addresses" {
  description = "Addresses of proxies run elsewhere (another cloud, bare metal). When non-empty the module creates no AWS resource and only renders the policy from these addresses; run the proxies with the meridian-cloud-init module."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.proxy_addresses : can(cidrhost("${a}/${strcontains(a, ":") ? 128 : 32}", 0))])
    error_message = "proxy_addresses must be IPv4 or IPv6 addresses."
  }
}

# --- AWS: instances, load balancer, addresses ---

variable "vpc_id" {
  description = "VPC of the proxies and their load balancer. Required unless proxy_addresses is set."
  type        = string
  default     = null

  validation {
    condition     = var.vpc_id != null || length(var.proxy_addresses) > 0
    error_message = "vpc_id is required unless proxy_addresses is set."
  }
}

variable "subnet_ids" {
  description = "Public subnets, one per availability zone, for the load balancer and the proxies. Each gets one static Elastic IP, which becomes one address in regions/<region>.proxies."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.subnet_ids) > 0 || length(var.proxy_addresses) > 0
    error_message = "subnet_ids needs at least one subnet unless proxy_addresses is set."
  }

  validation {
    condition     = length(distinct(var.subnet_ids)) == length(var.subnet_ids)
    error_message = "subnet_ids must not repeat a subnet."
  }
}

variable "instance_count" {
  description = "Number of proxy instances in the Auto Scaling group. At least one per subnet, so that every Elastic IP has a proxy behind it (cross-zone load balancing is off)."
  type        = number
  default     = 2

  validation {
    condition     = var.instance_count >= max(1, length(var.subnet_ids)) && floor(var.instance_count) == var.instance_count
    error_message = "instance_count must be an integer and at least the number of subnets."
  }
}

variable "instance_type" {
  description = "EC2 instance type of the proxies."
  type        = string
  default     = "t3.small"
}

variable "architecture" {
  description = "CPU architecture of the instances, amd64 or arm64; meridian_binary_url must match it (and so must instance_type)."
  type        = string
  default     = "amd64"

  validation {
    condition     = contains(["amd64", "arm64"], var.architecture)
    error_message = "architecture must be amd64 or arm64."
  }
}

variable "ami_id" {
  description = "AMI of the proxies, or null for the newest official Debian 12 image. The user data needs a Debian-like image with apt and the awscli package; pin an AMI in production so a new image does not roll the group."
  type        = string
  default     = null
}

variable "assign_public_ip" {
  description = "Give each proxy a public IP for outbound traffic (binary download, SSM, etcd, backends). Set false when the subnets route out through a NAT gateway."
  type        = bool
  default     = true
}

variable "admin_port" {
  description = "Port of the proxies' admin server (/metrics, /healthz, /readyz). The load balancer health-checks /readyz on it from inside the subnets."
  type        = number
  default     = 9154

  validation {
    condition     = var.admin_port >= 1 && var.admin_port <= 65535 && var.admin_port != var.http_port
    error_message = "admin_port must be in 1..65535 and differ from http_port."
  }
}

variable "admin_cidrs" {
  description = "Extra CIDRs allowed to reach admin_port, such as a Prometheus server. The port is never open to the world."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.admin_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0" && c != "::/0"])
    error_message = "admin_cidrs must be CIDRs and must not be 0.0.0.0/0 or ::/0."
  }
}

variable "tls_certificate_arn" {
  description = "ACM certificate ARN for an optional TLS listener on 443 that terminates at the load balancer and forwards plain HTTP to http_port (meridian proxy serves HTTP only). Null: no 443 listener."
  type        = string
  default     = null

  validation {
    condition     = var.tls_certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:", var.tls_certificate_arn))
    error_message = "tls_certificate_arn must be an ACM certificate ARN."
  }
}

variable "extra_args" {
  description = "More flags for `meridian proxy`, one word per element (\"--log-level\", \"debug\"); see `meridian proxy -h`. The module already sets the ones it manages."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.extra_args : can(regex("^[^\\s\"'\\\\]+$", a))])
    error_message = "extra_args elements must not contain white space, quotes or backslashes."
  }
}

variable "stop_timeout" {
  description = "How long a proxy may take to drain and stop (systemd TimeoutStopSec); more than the longest TTL of the services that list the region."
  type        = string
  default     = "90s"

  validation {
    condition     = can(regex("^[0-9]+(s|min)$", var.stop_timeout))
    error_message = "stop_timeout must be a systemd time span such as \"90s\" or \"5min\"."
  }
}

variable "tags" {
  description = "Tags for every AWS resource."
  type        = map(string)
  default     = {}
}

# --- The meridian binary and etcd ---

variable "meridian_binary_url" {
  description = "HTTPS URL of the meridian binary (or a .tar.gz holding it) for architecture. Required unless proxy_addresses is set."
  type        = string
  default     = null

  validation {
    condition     = var.meridian_binary_url != null || length(var.proxy_addresses) > 0
    error_message = "meridian_binary_url is required unless proxy_addresses is set."
  }
}

variable "meridian_binary_sha256" {
  description = "SHA-256 of the file at meridian_binary_url (64 hex digits)."
  type        = string
  default     = null

  validation {
    condition     = var.meridian_binary_sha256 == null ? length(var.proxy_addresses) > 0 : can(regex("^[0-9a-f]{64}$", var.meridian_binary_sha256))
    error_message = "meridian_binary_sha256 must be 64 lower-case hex digits (required unless proxy_addresses is set)."
  }
}

variable "etcd_endpoints" {
  description = "etcd client URLs (https://...:2379), for example the meridian-etcd module's client_endpoints."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.etcd_endpoints) > 0 || length(var.proxy_addresses) > 0
    error_message = "etcd_endpoints is required unless proxy_addresses is set."
  }
}

variable "etcd_ca_pem" {
  description = "PEM of the CA of the etcd servers' certificates."
  type        = string
  default     = null

  validation {
    condition     = var.etcd_ca_pem != null || length(var.proxy_addresses) > 0
    error_message = "etcd_ca_pem is required unless proxy_addresses is set."
  }
}

variable "etcd_client_cert_pem" {
  description = "PEM of the proxies' etcd client certificate. With etcd auth on, its common name is the etcd user (meridian-proxy: read /meridian/, write /meridian/status/)."
  type        = string
  default     = null

  validation {
    condition     = var.etcd_client_cert_pem != null || length(var.proxy_addresses) > 0
    error_message = "etcd_client_cert_pem is required unless proxy_addresses is set."
  }
}

variable "etcd_client_key_pem" {
  description = "PEM of the key of etcd_client_cert_pem. Stored as an SSM SecureString that only the proxies' role may read; never put in user data."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.etcd_client_key_pem != null || length(var.proxy_addresses) > 0
    error_message = "etcd_client_key_pem is required unless proxy_addresses is set."
  }
}

variable "etcd_user" {
  description = "etcd user for password authentication, or null to authenticate by the client certificate's common name."
  type        = string
  default     = null
}

variable "etcd_password" {
  description = "Password of etcd_user; stored as an SSM SecureString. Required with etcd_user."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = (var.etcd_user == null) == (var.etcd_password == null)
    error_message = "Set etcd_password exactly when etcd_user is set."
  }
}

# --- Writing the policy ---

variable "apply_policy" {
  description = "Run `meridian policy apply` on this module's policy from the machine running terraform, whenever it changes. That machine needs the meridian binary and etcd access (MERIDIAN_ETCD_* in its environment or policy_apply_environment). Pools that spill over to regions not yet in etcd fail validation: apply those together (see examples/three-regions)."
  type        = bool
  default     = false
}

variable "meridian_cli" {
  description = "The meridian command on the machine running terraform, for apply_policy."
  type        = string
  default     = "meridian"
}

variable "policy_apply_environment" {
  description = "Extra environment for `meridian policy apply`, such as MERIDIAN_ETCD_ENDPOINTS, MERIDIAN_ETCD_CA, MERIDIAN_ETCD_CERT and MERIDIAN_ETCD_KEY (file paths on the machine running terraform)."
  type        = map(string)
  default     = {}
}
