/** The admin business form's fields → the body of POST / PATCH /api/admin/businesses. */
import type { Business, BusinessInput, BusinessPatch } from '../api/admin';

export interface BusinessFormState {
  name: string;
  timezone: string;
  /** One number per line (or comma-separated). */
  voice: string;
  whatsapp: string;
  metaPhoneNumberId: string;
  /** Typed by the admin; never filled from the server (the token is write-only). */
  metaAccessToken: string;
  /** Remove the stored token (edit only). */
  clearMetaAccessToken: boolean;
  twilioMessagingServiceSid: string;
  isActive: boolean;
}

export function linesOf(text: string): string[] {
  return text
    .split(/[\n,]+/)
    .map((line) => line.trim())
    .filter(Boolean);
}

export function initialBusinessForm(business: Business | null): BusinessFormState {
  return {
    name: business?.name ?? '',
    timezone: business?.timezone ?? 'Asia/Jerusalem',
    voice: (business?.voice_numbers ?? []).join('\n'),
    whatsapp: (business?.whatsapp_numbers ?? []).join('\n'),
    metaPhoneNumberId: business?.meta_phone_number_id ?? '',
    metaAccessToken: '',
    clearMetaAccessToken: false,
    twilioMessagingServiceSid: business?.twilio_messaging_service_sid ?? '',
    isActive: business?.is_active ?? true,
  };
}

/** Create (business null) or edit. The token is sent only when typed (replace) or when clearing
 *  (null); an empty box keeps the stored one. */
export function businessPayload(form: BusinessFormState, business: Business | null): BusinessInput | BusinessPatch {
  const input: BusinessInput = {
    name: form.name.trim(),
    timezone: form.timezone.trim() || 'Asia/Jerusalem',
    voice_numbers: linesOf(form.voice),
    whatsapp_numbers: linesOf(form.whatsapp),
    meta_phone_number_id: form.metaPhoneNumberId.trim() || null,
    twilio_messaging_service_sid: form.twilioMessagingServiceSid.trim() || null,
  };
  const token = form.metaAccessToken.trim();
  if (business && form.clearMetaAccessToken) input.meta_access_token = null;
  else if (token) input.meta_access_token = token;
  return business ? { ...input, is_active: form.isActive } : input;
}
