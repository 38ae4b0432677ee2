package dns

import _ "github.com/miekg/dns"
