import { ComingSoon } from '../../components/ComingSoon';

export default function InboxPage() {
  return <ComingSoon title="nav.inbox" body="comingSoon.inbox" />;
}
