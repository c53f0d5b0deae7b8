import { describe, expect, it } from 'vitest';

import type { Business } from '../api/admin';
import { businessPayload, initialBusinessForm } from './businessForm';

const stored: Business = {
  id: 4,
  name: 'קפה (חיפה) 2',
  timezone: 'Asia/Jerusalem',
  is_active: true,
  voice_numbers: ['+97235550101'],
  whatsapp_numbers: ['+972501234567'],
  meta_phone_number_id: '1098765',
  meta_access_token_set: true,
  twilio_messaging_service_sid: 'MG0123456789abcdef0123456789abcdef',
  created_at: '2026-01-01T10:00:00Z',
  updated_at: '2026-01-01T10:00:00Z',
};

describe('the business form body', () => {
  it('an edit never fills the token from the server, and an empty box keeps the stored one', () => {
    const form = initialBusinessForm(stored);
    expect(form.metaAccessToken).toBe('');
    const body = businessPayload(form, stored);
    expect(body).not.toHaveProperty('meta_access_token');
    expect(body).toMatchObject({
      meta_phone_number_id: '1098765',
      twilio_messaging_service_sid: 'MG0123456789abcdef0123456789abcdef',
      is_active: true,
    });
  });

  it('a typed token replaces it; "remove" sends null', () => {
    const form = initialBusinessForm(stored);
    expect(businessPayload({ ...form, metaAccessToken: ' EAAG-new ' }, stored)).toMatchObject({ meta_access_token: 'EAAG-new' });
    expect(businessPayload({ ...form, metaAccessToken: 'ignored', clearMetaAccessToken: true }, stored)).toMatchObject({
      meta_access_token: null,
    });
  });

  it('a new business sends the token and the messaging service only when given', () => {
    const empty = businessPayload({ ...initialBusinessForm(null), name: 'מספרה' }, null);
    expect(empty).toEqual({
      name: 'מספרה',
      timezone: 'Asia/Jerusalem',
      voice_numbers: [],
      whatsapp_numbers: [],
      meta_phone_number_id: null,
      twilio_messaging_service_sid: null,
    });
    const full = businessPayload(
      { ...initialBusinessForm(null), name: 'מספרה', metaAccessToken: 'EAAG', twilioMessagingServiceSid: 'MGabc', clearMetaAccessToken: true },
      null,
    );
    expect(full).toMatchObject({ meta_access_token: 'EAAG', twilio_messaging_service_sid: 'MGabc' });
    expect(full).not.toHaveProperty('is_active');
  });
});
