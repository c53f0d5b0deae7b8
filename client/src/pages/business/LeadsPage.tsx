import { ComingSoon } from '../../components/ComingSoon';

export default function LeadsPage() {
  return <ComingSoon title="nav.leads" body="comingSoon.leads" />;
}
