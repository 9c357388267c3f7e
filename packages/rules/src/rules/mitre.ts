/** MITRE ATT&CK Enterprise tactics by the short names rule files use, with their ids. */
export const MITRE_TACTICS: Readonly<Record<string, string>> = {
  reconnaissance: 'TA0043',
  'resource-development': 'TA0042',
  'initial-access': 'TA0001',
  execution: 'TA0002',
  persistence: 'TA0003',
  'privilege-escalation': 'TA0004',
  'defense-evasion': 'TA0005',
  'credential-access': 'TA0006',
  discovery: 'TA0007',
  'lateral-movement': 'TA0008',
  collection: 'TA0009',
  exfiltration: 'TA0010',
  'command-and-control': 'TA0011',
  impact: 'TA0040',
};

/** Technique or sub-technique id: T1059 or T1059.004. */
export const TECHNIQUE_RE = /^T\d{4}(\.\d{3})?$/;
