import { ComingSoon } from '../../components/ComingSoon';

export default function CallsPage() {
  return <ComingSoon title="nav.calls" body="comingSoon.calls" />;
}
