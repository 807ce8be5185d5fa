require ["fileinto","imap4flags","body","variables","envelope","subaddress","relational","comparator-i;ascii-numeric","regex"];

if header :contains "list-id" "golang-nuts" { fileinto "Lists/golang-nuts"; stop; }
if header :contains "list-id" "debian-devel" { fileinto "Lists/debian-devel"; stop; }
if header :contains "list-id" "postfix-users" { fileinto "Lists/postfix-users"; stop; }
if header :contains "list-id" "dovecot" { fileinto "Lists/dovecot"; stop; }
if header :contains "list-id" "linux-kernel" { fileinto "Lists/linux-kernel"; stop; }
if header :contains "list-id" "rust-users" { fileinto "Lists/rust-users"; stop; }
if header :contains "list-id" "python-dev" { fileinto "Lists/python-dev"; stop; }
if header :contains "list-id" "openbsd-tech" { fileinto "Lists/openbsd-tech"; stop; }
if header :contains "list-id" "nginx" { fileinto "Lists/nginx"; stop; }
if header :contains "list-id" "postgres-general" { fileinto "Lists/postgres-general"; stop; }
if address :is "from" "boss@corp.example" { addflag "\\Flagged"; fileinto "People/boss"; }
if address :is "from" "hr@corp.example" { addflag "\\Flagged"; fileinto "People/hr"; }
if address :is "from" "it-support@corp.example" { addflag "\\Flagged"; fileinto "People/it-support"; }
if address :is "from" "noreply@bank.example" { addflag "\\Flagged"; fileinto "People/noreply"; }
if address :is "from" "alerts@monitoring.example" { addflag "\\Flagged"; fileinto "People/alerts"; }
if address :is "from" "news@shop.example" { addflag "\\Flagged"; fileinto "People/news"; }
if address :is "from" "billing@isp.example" { addflag "\\Flagged"; fileinto "People/billing"; }
if address :is "from" "friend@mail.example" { addflag "\\Flagged"; fileinto "People/friend"; }
if address :is "from" "family@home.example" { addflag "\\Flagged"; fileinto "People/family"; }
if address :is "from" "calendar@corp.example" { addflag "\\Flagged"; fileinto "People/calendar"; }
if header :contains "subject" "invoice" { fileinto "Topics/invoice"; }
if header :contains "subject" "receipt" { fileinto "Topics/receipt"; }
if header :contains "subject" "password reset" { fileinto "Topics/password-reset"; }
if header :contains "subject" "newsletter" { fileinto "Topics/newsletter"; }
if header :contains "subject" "webinar" { fileinto "Topics/webinar"; }
if header :contains "subject" "unsubscribe" { fileinto "Topics/unsubscribe"; }
if header :contains "subject" "shipping" { fileinto "Topics/shipping"; }
if header :contains "subject" "meeting" { fileinto "Topics/meeting"; }
if header :contains "subject" "urgent" { fileinto "Topics/urgent"; }
if header :contains "subject" "weekly report" { fileinto "Topics/weekly-report"; }
if address :domain :is ["from","reply-to"] "spam.example" { discard; stop; }
if address :domain :is ["from","reply-to"] "phish.example" { discard; stop; }
if address :domain :is ["from","reply-to"] "ads.example" { discard; stop; }
if address :domain :is ["from","reply-to"] "tracker.example" { discard; stop; }
if address :domain :is ["from","reply-to"] "bulk.example" { discard; stop; }
if body :text :contains "lottery" { fileinto "Junk"; stop; }
if body :text :contains "winner" { fileinto "Junk"; stop; }
if body :text :contains "crypto offer" { fileinto "Junk"; stop; }
if body :text :contains "viagra" { fileinto "Junk"; stop; }
if body :text :contains "free money" { fileinto "Junk"; stop; }
if header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "10" { fileinto "Junk"; stop; }
if envelope :detail "to" "shopping" { fileinto "Shopping"; }
if header :matches "subject" "[*] *" { set "tag" "${1}"; addflag "${tag}"; }
if header :regex "message-id" "@(calendar|meet)\\." { fileinto "Calendar"; }
if exists "x-mailing-list" { fileinto "Lists/other"; }
if allof (header :contains "to" "me@example.com", not exists "list-id") { addflag "Direct"; }
if size :over 1M { addflag "Big"; }
if header :contains "x-priority" "1" { addflag "\\Flagged"; }
if anyof (header :contains "subject" "re:", header :contains "in-reply-to" "@") { addflag "Thread"; }
if header :is "precedence" ["bulk","junk"] { fileinto "Bulk"; }
